//! [`token_states`]: the frozen encoder's per-token states of many texts, computed once.

use burn::tensor::{Int, Tensor, TensorData};
use lux_core::{Error, Result};

use crate::encoder::Encoder;

/// The last hidden state of every token of each text, `[tokens_i, hidden]` per text, on the
/// encoder's device, padding removed.
///
/// LinguaLIFT keeps the encoder frozen, so its states never change during training: computing
/// them once (in batches of `batch_size`, each padded to its longest text) saves a forward
/// pass per step and keeps them out of the autodiff graph. Texts longer than the encoder's
/// positions are an error naming the text; cut them when tokenising.
pub fn token_states(
    encoder: &Encoder,
    texts: &[Vec<u32>],
    batch_size: usize,
) -> Result<Vec<Tensor<2>>> {
    let max = encoder.config().max_tokens();
    if let Some((i, t)) = texts.iter().enumerate().find(|(_, t)| t.len() > max) {
        return Err(Error::invalid(
            format!("texts[{i}]"),
            format!("{} tokens; the encoder takes at most {max}", t.len()),
        ));
    }
    if let Some(i) = texts.iter().position(Vec::is_empty) {
        return Err(Error::invalid(format!("texts[{i}]"), "no tokens"));
    }
    let device = encoder.input_embedding_table().device();
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch_size.max(1)) {
        let seq = chunk.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(chunk.len() * seq);
        let mut mask = Vec::with_capacity(chunk.len() * seq);
        for t in chunk {
            ids.extend(t.iter().map(|&x| i64::from(x)));
            ids.extend(std::iter::repeat_n(0i64, seq - t.len()));
            mask.extend(std::iter::repeat_n(1i64, t.len()));
            mask.extend(std::iter::repeat_n(0i64, seq - t.len()));
        }
        let b = chunk.len();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, seq]), &device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, [b, seq]), &device);
        let states = encoder.forward(ids, Some(mask));
        let d = states.dims()[2];
        for (i, t) in chunk.iter().enumerate() {
            out.push(
                states
                    .clone()
                    .narrow(0, i, 1)
                    .narrow(1, 0, t.len())
                    .reshape([t.len(), d]),
            );
        }
    }
    Ok(out)
}
