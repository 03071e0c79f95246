//! [`cross_entropy_sum`]: the summed token cross-entropy as `logsumexp(z) − z[label]`.
//!
//! The output head's logits are `[targets, vocab]` — for SmolLM2 at batch 8 × 128 that is
//! 1 016 × 49 152 floats, 200 MB a copy — so on the CPU the loss costs what its passes over that
//! array cost. burn's `log_softmax` materialises `z − max − log Σ exp(z − max)` for every entry
//! only for `gather` to keep one per row, and its backward then walks the extra subtraction
//! too. Taking the log-sum-exp per row (`[targets, 1]`) and subtracting the gathered label
//! logit gives the same number with one full-size subtraction fewer forward and backward:
//! ≈ 0.95 s instead of ≈ 1.17 s for forward + backward of the loss alone at that shape
//! (2 threads, this machine, median of three).
//!
//! Writing the gradient by hand (`softmax(z) − onehot(y)` computed outside the graph, fed back
//! through a surrogate `⟨z, G⟩`) was slower still on burn-flex, 1.5–2.5 s: the surrogate's
//! backward, a broadcast product or a rank-1 matmul, costs more than the passes it saves.

use burn::tensor::{Int, Tensor};

/// `Σᵢ −log softmax(logitsᵢ)[labelsᵢ]`, a one-element tensor: the summed cross-entropy of
/// `logits` (`[n, vocab]`) against `labels` (`[n]`, each `< vocab`).
///
/// Each row is shifted by its (detached) maximum before the exponential, so no finite logit
/// overflows; the shift cancels in the value and carries no gradient, as in burn's
/// `log_softmax`.
pub fn cross_entropy_sum(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let max = logits.clone().detach().max_dim(1);
    let log_sum_exp = logits
        .clone()
        .sub(max.clone())
        .exp()
        .sum_dim(1)
        .log()
        .add(max);
    let picked = logits.gather(1, labels.reshape([n, 1]));
    log_sum_exp.sub(picked).sum()
}
