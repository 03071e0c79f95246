//! Sentence vectors from token states: mean pooling over the attention mask and L2
//! normalisation, as sentence-transformers' `Pooling(mean)` + `Normalize` and e5 compute them.

use burn::tensor::{Int, Tensor};

/// Mean of each row's token states over its real tokens (`attention_mask` = 1); padding
/// contributes nothing, so a text gets the same vector alone or in a padded batch. A row with
/// no real token gives zeros.
///
/// # Shapes
///
/// - hidden: `[batch, seq, hidden]`
/// - attention_mask: `[batch, seq]`
/// - output: `[batch, hidden]`
pub fn mean_pool(hidden: Tensor<3>, attention_mask: &Tensor<2, Int>) -> Tensor<2> {
    let [b, s, d] = hidden.dims();
    let weights = attention_mask
        .clone()
        .not_equal_elem(0)
        .float()
        .reshape([b, s, 1]);
    let count = weights.clone().sum_dim(1).clamp_min(1e-9); // [b, 1, 1]
    ((hidden * weights).sum_dim(1) / count).reshape([b, d])
}

/// Each row divided by its L2 norm (floored at `1e-12`, as `torch.nn.functional.normalize`).
///
/// # Shapes
///
/// - input, output: `[batch, hidden]`
pub fn l2_normalize(vectors: Tensor<2>) -> Tensor<2> {
    let norm = vectors.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    vectors / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, Tolerance};

    #[test]
    fn padding_is_ignored_and_rows_get_unit_norm() {
        let device = Device::flex();
        let hidden = Tensor::<3>::from_data(
            [
                [[1.0f32, 2.0], [3.0, 4.0], [100.0, 100.0]],
                [[0.0, 3.0], [9.0, 9.0], [9.0, 9.0]],
            ],
            &device,
        );
        let mask = Tensor::<2, Int>::from_data([[1i64, 1, 0], [1, 0, 0]], &device);
        let pooled = mean_pool(hidden, &mask);
        pooled.clone().into_data().assert_approx_eq::<f32>(
            &TensorData::from([[2.0f32, 3.0], [0.0, 3.0]]),
            Tolerance::absolute(1e-6),
        );
        let r = 13f32.sqrt();
        l2_normalize(pooled).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[2.0 / r, 3.0 / r], [0.0, 1.0]]),
            Tolerance::absolute(1e-6),
        );
    }
}
