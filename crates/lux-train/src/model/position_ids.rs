//! [`PositionIds`]: the per-token positions of a packed batch, several examples laid end to end
//! in one row, each counting its positions from 0 — the padding-free packing of transformers
//! (`DataCollatorWithFlattening`) and TRL (`padding_free`, `packing`).
//!
//! As there, the position ids alone say where one example ends and the next begins: a token at
//! position 0 starts a new example, every other token continues the one before it. From them
//! follow both the rotary angle of each token (its own position, not its index in the row) and
//! the attention mask: a token attends to the tokens of its own example up to itself and to
//! nothing else (block-diagonal causal attention), so each example is computed exactly as if it
//! were alone in its row. Each such run of tokens is a [`Span`].

use std::sync::Arc;

use lux_core::{Error, Result};

/// A run of consecutive tokens of the flattened `[batch, seq]` batch that attend to one
/// another causally: one example of a packed row (or a row's padding tail), or a whole row when
/// nothing is packed. `start` is the flat index `b·seq + t` of its first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Flat index of the first token.
    pub start: usize,
    /// Number of tokens (at least 1).
    pub len: usize,
}

impl Span {
    /// One span per row: the unpacked layout, where every row is one sequence.
    pub fn rows(batch: usize, seq: usize) -> Vec<Span> {
        (0..batch)
            .map(|b| Span {
                start: b * seq,
                len: seq,
            })
            .collect()
    }
}

/// Validated position ids of a `[batch, seq]` batch, kept on the host (the attention kernels
/// and the mask read them there), with the [`Span`]s they delimit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionIds {
    batch: usize,
    seq: usize,
    ids: Arc<[usize]>,
    spans: Arc<[Span]>,
}

impl PositionIds {
    /// Position ids `[batch, seq]`, row-major. Each row starts at 0 and every id is either 0 (a
    /// new example starts) or the previous id plus one; anything else is an error naming the
    /// row and token, since a gap or a jump has no block-diagonal reading.
    pub fn new(ids: Vec<usize>, [batch, seq]: [usize; 2]) -> Result<PositionIds> {
        if ids.len() != batch * seq {
            return Err(Error::invalid(
                "position_ids",
                format!("{} ids for a batch of {batch} × {seq} tokens", ids.len()),
            ));
        }
        let mut spans: Vec<Span> = Vec::new();
        for b in 0..batch {
            for t in 0..seq {
                let flat = b * seq + t;
                let id = ids[flat];
                if id == 0 {
                    spans.push(Span {
                        start: flat,
                        len: 1,
                    });
                } else if t > 0 && id == ids[flat - 1] + 1 {
                    if let Some(span) = spans.last_mut() {
                        span.len += 1;
                    }
                } else {
                    let after = if t == 0 {
                        "the start of the row".to_owned()
                    } else {
                        format!("position {}", ids[flat - 1])
                    };
                    return Err(Error::invalid(
                        "position_ids",
                        format!(
                            "row {b}, token {t}: position {id} after {after}; each example's \
                             positions count 0, 1, 2, … from its first token"
                        ),
                    ));
                }
            }
        }
        Ok(PositionIds {
            batch,
            seq,
            ids: ids.into(),
            spans: spans.into(),
        })
    }

    /// The position ids of rows that each hold examples of the given lengths end to end, padded
    /// to `seq` tokens; the padding tail of a row counts from 0 too (one more span, which the
    /// key-padding mask hides from every real token and which attends to nothing real).
    ///
    /// Errors if a row's lengths add up to more than `seq` or an example is empty.
    pub fn from_lengths(rows: &[Vec<usize>], seq: usize) -> Result<PositionIds> {
        let mut ids = Vec::with_capacity(rows.len() * seq);
        for (b, lengths) in rows.iter().enumerate() {
            let used: usize = lengths.iter().sum();
            if used > seq || lengths.contains(&0) {
                return Err(Error::invalid(
                    "position_ids",
                    format!(
                        "row {b}: examples of {lengths:?} tokens do not fit {seq} (or one is empty)"
                    ),
                ));
            }
            for &len in lengths {
                ids.extend(0..len);
            }
            ids.extend(0..seq - used);
        }
        PositionIds::new(ids, [rows.len(), seq])
    }

    /// `[batch, seq]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.batch, self.seq]
    }

    /// The ids, `[batch · seq]` row-major.
    pub fn ids(&self) -> &[usize] {
        &self.ids
    }

    /// The runs of tokens that attend to one another, in order; they tile the batch.
    pub fn spans(&self) -> &Arc<[Span]> {
        &self.spans
    }

    /// One more than the largest id: the rotary table rows a forward pass needs.
    pub fn max_len(&self) -> usize {
        self.spans.iter().map(|s| s.len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_restarts() {
        let p = PositionIds::new(vec![0, 1, 2, 0, 1, 0, 0, 1, 2, 3], [2, 5]).unwrap();
        assert_eq!(
            p.spans()[..],
            [
                Span { start: 0, len: 3 },
                Span { start: 3, len: 2 },
                Span { start: 5, len: 1 },
                Span { start: 6, len: 4 },
            ]
        );
        assert_eq!(p.max_len(), 4);
        let q = PositionIds::from_lengths(&[vec![3, 2], vec![1, 4]], 5).unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn padding_tail_is_its_own_span() {
        let p = PositionIds::from_lengths(&[vec![2], vec![1, 1, 1]], 4).unwrap();
        assert_eq!(p.ids(), [0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(p.spans().len(), 6);
        assert!(PositionIds::from_lengths(&[vec![3, 2]], 4).is_err());
        assert!(PositionIds::from_lengths(&[vec![0, 2]], 4).is_err());
    }

    #[test]
    fn gaps_and_rows_not_starting_at_zero_are_refused_by_place() {
        let e = PositionIds::new(vec![0, 1, 3], [1, 3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 0, token 2") && e.contains("position 3 after position 1"),
            "{e}"
        );
        // Every row starts a new example: a row cannot continue the previous one.
        let e = PositionIds::new(vec![0, 1, 2, 3], [2, 2])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 1, token 0") && e.contains("start of the row"),
            "{e}"
        );
        assert!(PositionIds::new(vec![0, 1], [1, 3]).is_err());
    }
}
