//! [`clip_grad_norm`]: clipping by the global norm of all gradients, as PyTorch's
//! `clip_grad_norm_` (what transformers' `max_grad_norm` does).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Scales every gradient of `module`'s parameters in `grads` by `min(1, max_norm / ‖g‖)`,
/// where `‖g‖` is the L2 norm of all of them together, and returns `‖g‖` (before clipping).
///
/// burn's own `GradientClipping::Norm` clips each tensor separately, which changes the
/// direction of the update and is not what users of transformers expect from
/// `max_grad_norm`: lux clips globally. The factor is `max_norm / (‖g‖ + 1e-6)`, PyTorch's.
pub fn clip_grad_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut norm = SquaredNorm { grads, sum: 0.0 };
    module.visit(&mut norm);
    let total = norm.sum.sqrt();
    let scale = max_norm / (total + 1e-6);
    if scale < 1.0 {
        module.visit(&mut Scale { grads, scale });
    }
    total
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sum += g.square().sum().into_scalar::<f32>() as f64;
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    scale: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.scale));
        }
    }
}
