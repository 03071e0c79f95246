//! [`BatchLayout`]: padded rows, or packed ones — a micro-batch's examples laid end to end in
//! rows of at most `max_length` tokens, positions restarting at 0 with each example and
//! attention kept inside each (TRL's `packing` with its padding-free attention, transformers'
//! `DataCollatorWithFlattening`).
//!
//! Instruction data is short and uneven (LuxInstruct: ≈ 57 tokens an example with SmolLM2's
//! chat template, the longest of a batch of 8 often twice that), so padding every example to
//! the batch's longest spends much of a step on padding. Packed, a step computes only real
//! tokens (plus the padding that fills out the last rows), and the loss is the padded batch's
//! to rounding: every example sees exactly what it sees alone
//! ([`Llama::forward_selected_packed`](crate::model::Llama::forward_selected_packed)).
//!
//! Unlike TRL's `packing`, which packs the whole dataset before training (so that a batch is
//! a number of packed rows, and the number of examples per step varies), lux packs each
//! micro-batch the [`Trainer`](crate::training::Trainer) draws: a step still holds
//! `per_device_train_batch_size` examples, the data order and the loss per step are those of
//! the padded run, and only the layout of the tensors changes.

use burn::tensor::{Device, Tensor, TensorData};
use lux_core::{Error, Result};

use super::data::{SftBatch, SftSample};
use crate::model::PositionIds;

/// How the examples of a micro-batch are laid out in rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchLayout {
    /// One example per row, right-padded to the longest of the batch (TRL's default).
    #[default]
    Padded,
    /// Examples end to end in rows of at most `max_length` tokens, placed first-fit
    /// decreasing ([`pack_first_fit_decreasing`]); rows right-padded to the longest row.
    Packed {
        /// Tokens a row may hold (at least the longest example).
        max_length: usize,
    },
}

impl BatchLayout {
    /// TRL's `packing = true` with `max_length`.
    pub fn packed(max_length: usize) -> BatchLayout {
        BatchLayout::Packed { max_length }
    }
}

/// Rows of item indices for items of `lengths`, each row's lengths adding up to at most
/// `max_length`: first-fit decreasing — the items from longest to shortest (ties in their
/// order), each into the first row with room, else into a new row. Deterministic; within
/// `11/9 · optimal + 1` rows.
///
/// Errors when an item is longer than `max_length`, naming both.
pub fn pack_first_fit_decreasing(lengths: &[usize], max_length: usize) -> Result<Vec<Vec<usize>>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut rows: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in order {
        let len = lengths[i];
        if len > max_length {
            return Err(Error::invalid(
                "max_length",
                format!("an example of {len} tokens does not fit a packed row of {max_length}"),
            ));
        }
        match rows.iter_mut().find(|(used, _)| used + len <= max_length) {
            Some((used, items)) => {
                *used += len;
                items.push(i);
            }
            None => rows.push((len, vec![i])),
        }
    }
    Ok(rows.into_iter().map(|(_, items)| items).collect())
}

impl SftBatch {
    /// The batch in `layout`: [`new`](Self::new) for padded rows, [`packed`](Self::packed)
    /// for packed ones.
    pub fn with_layout(
        samples: &[&SftSample],
        pad_id: u32,
        layout: BatchLayout,
        device: &Device,
    ) -> Result<SftBatch> {
        match layout {
            BatchLayout::Padded => Ok(SftBatch::new(samples, pad_id, device)),
            BatchLayout::Packed { max_length } => {
                SftBatch::packed(samples, pad_id, max_length, device)
            }
        }
    }

    /// `samples` packed into rows of at most `max_length` tokens
    /// ([`pack_first_fit_decreasing`]), rows right-padded with `pad_id` to the longest row;
    /// [`position_ids`](Self::position_ids) restart at 0 with every example (and with a row's
    /// padding tail). Targets and labels are each example's, as in [`new`](Self::new), at the
    /// example's place in its row.
    pub fn packed(
        samples: &[&SftSample],
        pad_id: u32,
        max_length: usize,
        device: &Device,
    ) -> Result<SftBatch> {
        let lengths: Vec<usize> = samples.iter().map(|s| s.ids.len()).collect();
        let rows = pack_first_fit_decreasing(&lengths, max_length)?;
        let seq = rows
            .iter()
            .map(|row| row.iter().map(|&i| lengths[i]).sum::<usize>())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = Vec::with_capacity(rows.len() * seq);
        let mut mask = Vec::with_capacity(rows.len() * seq);
        let mut positions = Vec::new();
        let mut labels = Vec::new();
        let mut row_lengths = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            let mut at = 0;
            for &i in row {
                let s = samples[i];
                for (t, &id) in s.ids.iter().enumerate() {
                    ids.push(i64::from(id));
                    mask.push(1i64);
                    // The logits at t predict token t + 1 of the same example.
                    if t + 1 < s.ids.len() && t + 1 >= s.prompt_len {
                        positions.push((r * seq + at + t) as i64);
                        labels.push(i64::from(s.ids[t + 1]));
                    }
                }
                at += s.ids.len();
            }
            ids.extend(std::iter::repeat_n(i64::from(pad_id), seq - at));
            mask.extend(std::iter::repeat_n(0i64, seq - at));
            row_lengths.push(row.iter().map(|&i| lengths[i]).collect::<Vec<_>>());
        }
        let position_ids = PositionIds::from_lengths(&row_lengths, seq)?;
        let n = positions.len();
        Ok(SftBatch {
            ids: Tensor::from_data(TensorData::new(ids, [rows.len(), seq]), device),
            mask: Tensor::from_data(TensorData::new(mask, [rows.len(), seq]), device),
            positions: Tensor::from_data(TensorData::new(positions, [n]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
            target_tokens: n,
            tokens: lengths.iter().sum(),
            position_ids: Some(position_ids),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Int;

    fn ints<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
        t.into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap()
    }

    #[test]
    fn first_fit_decreasing_fills_rows_longest_first() {
        // Sorted: 7 (i=1), 5 (i=0), 4 (i=3), 3 (i=2), 1 (i=4).
        let rows = pack_first_fit_decreasing(&[5, 7, 3, 4, 1], 10).unwrap();
        assert_eq!(rows, [vec![1, 2], vec![0, 3, 4]]);
        assert_eq!(
            pack_first_fit_decreasing(&[], 10).unwrap(),
            Vec::<Vec<usize>>::new()
        );
        let e = pack_first_fit_decreasing(&[3, 11], 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("11 tokens") && e.contains("max_length"), "{e}");
    }

    #[test]
    fn packed_batch_places_targets_at_each_examples_offset() {
        let a = SftSample {
            ids: vec![1, 2, 3, 4, 5],
            prompt_len: 3,
        };
        let b = SftSample {
            ids: vec![6, 7, 8],
            prompt_len: 2,
        };
        let c = SftSample {
            ids: vec![9, 10, 11, 12],
            prompt_len: 1,
        };
        // max 8: a (5) opens row 0, c (4) row 1, b (3) fits row 0.
        let batch = SftBatch::packed(&[&a, &b, &c], 0, 8, &Device::flex()).unwrap();
        let ids = ints(batch.ids.clone());
        assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0]);
        let position_ids = batch.position_ids.as_ref().unwrap();
        assert_eq!(
            position_ids.ids(),
            [0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3]
        );
        // a: 2, 3 → 4, 5; b: 5 + 1 → 8; c: row 1 at 8 + 0, 1, 2 → 10, 11, 12.
        assert_eq!(ints(batch.positions), [2, 3, 6, 8, 9, 10]);
        assert_eq!(ints(batch.labels), [4, 5, 8, 10, 11, 12]);
        assert_eq!(batch.target_tokens, a.targets() + b.targets() + c.targets());
        assert_eq!(batch.tokens, 12);
        let mask = ints(batch.mask);
        assert_eq!(mask.iter().sum::<i64>(), 12);
    }
}
