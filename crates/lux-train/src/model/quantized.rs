//! [`QuantizedWeight`]: a frozen linear weight kept in its GGUF blocks (`Q8_0`, `Q4_0`,
//! `Q4_1`, `Q4_K`, `Q6_K`) and multiplied with directly, for inference and as the frozen base
//! under LoRA training (QLoRA-style).
//!
//! **Why.** Dequantised at load, a 4-bit GGUF file costs eight times its size in memory, and at
//! batch 1 every token reads every weight: an `f32` base reads 8× the bytes of its 4-bit file
//! per token. Kept quantised, a layer decodes a block or a tile at a time inside the kernel
//! ([`super::quant_matmul`]), so only its blocks stay resident.
//!
//! A [`Projection`](super::Projection) loaded with `keep_quantized` holds one of these besides
//! its `weight` parameter; that parameter is then *lazy*: nothing is allocated unless some code
//! reads it (merging an adapter into the base, exporting the model), and then it is this
//! weight, dequantised. The forward pass never reads it.
//!
//! Inference at decoding batch sizes (up to [`QuantizedWeight::INFERENCE_Q8_MAX_ROWS`] rows, no
//! autodiff) quantises the activations to 8 bits per block and takes integer dot products
//! ([`super::quant_dot`]), as llama.cpp does; everything else multiplies with exact `f32`
//! activations.
//!
//! The weight is frozen: the autodiff op registered here passes `dx = dy·W` back to the input
//! and records no gradient for `W`, which is what LoRA training needs. Full fine-tuning needs
//! the `f32` path.

use std::fmt;
use std::sync::Arc;

use burn::module::{Param, ParamId};
use burn::tensor::{DType, Device, Shape, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn_flex::{Flex, FlexTensor};
use lux_core::{Error, Result};

use super::fused::{contiguous, values, wrap};
use super::fused_grad::autodiff_flex;
use super::quant_dot::{IntLevel, Q8_TYPES};
use super::quant_matmul::{self, KERNEL_TYPES, QuantView};
use crate::gguf::{GgmlType, dequantize};

/// A `[d_out, d_in]` matrix (Hugging Face's `Linear` layout) stored as GGUF blocks, each row a
/// whole number of blocks. Cloning shares the blocks.
#[derive(Clone)]
pub struct QuantizedWeight {
    inner: Arc<Inner>,
}

struct Inner {
    ty: GgmlType,
    d_out: usize,
    d_in: usize,
    bytes: Vec<u8>,
}

impl fmt::Debug for QuantizedWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "QuantizedWeight({} [{}, {}], {} bytes)",
            self.inner.ty,
            self.inner.d_out,
            self.inner.d_in,
            self.inner.bytes.len()
        )
    }
}

impl QuantizedWeight {
    /// The types the kernels multiply with directly.
    pub const TYPES: [GgmlType; 5] = KERNEL_TYPES;

    /// The types with integer kernels for 8-bit activations
    /// ([`matmul_transposed_q8`](Self::matmul_transposed_q8)).
    pub const Q8_TYPES: [GgmlType; 4] = Q8_TYPES;

    /// Up to this many activation rows, inference (a device without autodiff) multiplies with
    /// 8-bit activations ([`matmul_transposed_q8`](Self::matmul_transposed_q8)): decoding
    /// steps (one row per sequence) and short prompts. More rows take decoded tiles and
    /// `gemm`, exact, and faster there: decoding a whole matrix to `f32` tiles costs as much as
    /// ≈ 35 rows of integer products (`benches/quant_matmul.rs`, SmolLM2's layers on one core:
    /// 32 rows 174 vs 203 ms of CPU, 64 rows 356 vs 278). Under autodiff the product stays
    /// exact whatever the rows, so that training follows the gradients of the `f32` model (what
    /// the LoRA tests check).
    pub const INFERENCE_Q8_MAX_ROWS: usize = 32;

    /// Wraps `bytes`, the blocks of a `[d_out, d_in]` matrix of type `ty` in row-major order
    /// (as a GGUF file stores a tensor whose ggml dims are `[d_in, d_out]`).
    ///
    /// Errors: a type outside [`TYPES`](Self::TYPES), `d_in` not a whole number of blocks, or
    /// a byte length that does not match the shape.
    pub fn new(ty: GgmlType, [d_out, d_in]: [usize; 2], bytes: Vec<u8>) -> Result<Self> {
        if !KERNEL_TYPES.contains(&ty) {
            let names: Vec<&str> = KERNEL_TYPES.iter().map(|t| t.name()).collect();
            return Err(Error::invalid(
                "quantized weight",
                format!(
                    "type {ty} cannot stay quantised (lux multiplies with {})",
                    names.join(", ")
                ),
            ));
        }
        if !d_in.is_multiple_of(ty.block_size()) {
            return Err(Error::invalid(
                "quantized weight",
                format!(
                    "rows of {d_in} values are not whole {ty} blocks of {}",
                    ty.block_size()
                ),
            ));
        }
        let expected = d_out * (d_in / ty.block_size()) * ty.type_size();
        if bytes.len() != expected {
            return Err(Error::invalid(
                "quantized weight",
                format!(
                    "[{d_out}, {d_in}] of {ty} takes {expected} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                ty,
                d_out,
                d_in,
                bytes,
            }),
        })
    }

    /// The block type.
    pub fn ggml_type(&self) -> GgmlType {
        self.inner.ty
    }

    /// `[d_out, d_in]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.inner.d_out, self.inner.d_in]
    }

    /// The blocks, row-major.
    pub fn bytes(&self) -> &[u8] {
        &self.inner.bytes
    }

    /// The matrix as `f32`, `[d_out, d_in]` row-major: what loading without `keep_quantized`
    /// would have kept.
    pub fn dequantize(&self) -> Vec<f32> {
        let [d_out, d_in] = self.shape();
        dequantize(self.inner.ty, &self.inner.bytes, d_out * d_in)
            .expect("the geometry was checked when the weight was built")
    }

    pub(crate) fn view(&self) -> QuantView<'_> {
        QuantView {
            ty: self.inner.ty,
            d_out: self.inner.d_out,
            d_in: self.inner.d_in,
            bytes: &self.inner.bytes,
        }
    }

    /// `x·Wᵀ` for `x` `[rows, d_in]` row-major: `[rows, d_out]`.
    ///
    /// # Panics
    ///
    /// If `x.len()` is not a multiple of `d_in`.
    pub fn matmul_transposed(&self, x: &[f32]) -> Vec<f32> {
        let rows = self.rows_of(x, self.inner.d_in);
        quant_matmul::forward(self.view(), x, rows)
    }

    /// `x·Wᵀ` as llama.cpp decodes: each row of `x` quantised to 8 bits per 32-value block
    /// (`d = max|x|/127`), then integer dot products with the weight's quants, scaled once per
    /// block. Within `Σ_blocks d_x/2 · Σ|w|` of [`matmul_transposed`](Self::matmul_transposed)
    /// (up to `f32` rounding); for a type outside [`Q8_TYPES`](Self::Q8_TYPES) it *is*
    /// `matmul_transposed`.
    ///
    /// # Panics
    ///
    /// If `x.len()` is not a multiple of `d_in`.
    pub fn matmul_transposed_q8(&self, x: &[f32]) -> Vec<f32> {
        let rows = self.rows_of(x, self.inner.d_in);
        if !Q8_TYPES.contains(&self.inner.ty) {
            return quant_matmul::forward(self.view(), x, rows);
        }
        quant_matmul::forward_q8(self.view(), x, rows, IntLevel::detect())
    }

    /// `dy·W` for `dy` `[rows, d_out]` row-major: `[rows, d_in]` (the input gradient of
    /// [`matmul_transposed`](Self::matmul_transposed)).
    ///
    /// # Panics
    ///
    /// If `dy.len()` is not a multiple of `d_out`.
    pub fn matmul(&self, dy: &[f32]) -> Vec<f32> {
        let rows = self.rows_of(dy, self.inner.d_out);
        quant_matmul::backward_input(self.view(), dy, rows)
    }

    fn rows_of(&self, values: &[f32], width: usize) -> usize {
        assert!(
            width > 0 && values.len().is_multiple_of(width),
            "{} values are not rows of {width}",
            values.len()
        );
        values.len() / width
    }

    /// A lazy burn parameter of shape `[d_in, d_out]` (burn's `Linear` layout, the transpose)
    /// that, if ever read, holds this weight dequantised; until then it allocates nothing.
    pub(crate) fn lazy_param(&self, id: ParamId, device: &Device) -> Param<Tensor<2>> {
        let weight = self.clone();
        let [d_out, d_in] = self.shape();
        Param::uninitialized(
            id,
            move |device, require_grad| {
                let values = weight.dequantize();
                let mut transposed = vec![0f32; values.len()];
                for (o, row) in values.chunks_exact(d_in).enumerate() {
                    for (i, &v) in row.iter().enumerate() {
                        transposed[i * d_out + o] = v;
                    }
                }
                Tensor::from_data(TensorData::new(transposed, [d_in, d_out]), device)
                    .set_require_grad(require_grad)
            },
            device.clone(),
            false,
            Shape::new([d_in, d_out]),
        )
    }

    /// Rows `ids` of the matrix as `f32`, one after another (`[ids.len(), d_in]` row-major):
    /// an embedding lookup straight from the blocks, bit for bit the rows of
    /// [`dequantize`](Self::dequantize).
    ///
    /// Errors: an id outside `0..d_out`, named.
    pub fn dequantize_rows(&self, ids: &[usize]) -> Result<Vec<f32>> {
        let [d_out, d_in] = self.shape();
        let row_bytes = self.inner.bytes.len() / d_out.max(1);
        let mut out = vec![0f32; ids.len() * d_in];
        for (&id, row) in ids.iter().zip(out.chunks_exact_mut(d_in)) {
            if id >= d_out {
                return Err(Error::invalid(
                    "token id",
                    format!("{id} is outside the embedding's {d_out} rows"),
                ));
            }
            let bytes = &self.inner.bytes[id * row_bytes..(id + 1) * row_bytes];
            crate::gguf::dequantize_into(self.inner.ty, bytes, row)?;
        }
        Ok(out)
    }

    /// A lazy burn parameter of this weight's own shape `[d_out, d_in]` (an embedding table's
    /// layout) that, if ever read, holds it dequantised; until then it allocates nothing.
    pub(crate) fn lazy_table_param(&self, id: ParamId, device: &Device) -> Param<Tensor<2>> {
        let weight = self.clone();
        let shape = self.shape();
        Param::uninitialized(
            id,
            move |device, require_grad| {
                Tensor::from_data(TensorData::new(weight.dequantize(), shape), device)
                    .set_require_grad(require_grad)
            },
            device.clone(),
            false,
            Shape::new(shape),
        )
    }

    /// `input·Wᵀ` over the last axis (`[..., d_in]` → `[..., d_out]`), on any device.
    ///
    /// On the plain `flex` device the kernels run on the tensor's buffer; on an autodiff `flex`
    /// device they run the same way and the backward op below passes `dy·W` to the input.
    /// Elsewhere (a GPU), the weight is dequantised for the call and multiplied there.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let mut dims = input.dims();
        assert_eq!(
            dims[D - 1],
            self.inner.d_in,
            "input width does not match the weight"
        );
        let device = input.device();
        dims[D - 1] = self.inner.d_out;
        let out_shape = Shape::from(dims.to_vec());
        if input.dtype() == DType::F32 && device == Device::flex() {
            if !device.is_autodiff() {
                let x = contiguous(super::fused::flex(input));
                let x = values(&x);
                let rows = x.len() / self.inner.d_in;
                let y = if rows <= Self::INFERENCE_Q8_MAX_ROWS {
                    self.matmul_transposed_q8(x)
                } else {
                    self.matmul_transposed(x)
                };
                return wrap(FlexTensor::from_data(TensorData::new(y, out_shape)));
            }
            if let Some(x) = autodiff_flex(&input) {
                let x_values = contiguous(x.primitive().clone());
                let y = self.matmul_transposed(values(&x_values));
                let y = FlexTensor::from_data(TensorData::new(y, out_shape));
                let output = match QuantizedLinearBackward
                    .prepare::<NoCheckpointing>([x.node()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish(self.clone(), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                };
                return Tensor::from_primitive::<Autodiff<Flex>>(output);
            }
        }
        let [d_out, d_in] = self.shape();
        let weight =
            Tensor::<2>::from_data(TensorData::new(self.dequantize(), [d_out, d_in]), &device);
        let rows = input.shape().num_elements() / d_in;
        input
            .reshape([rows, d_in])
            .matmul(weight.transpose())
            .reshape(out_shape)
    }
}

/// The backward of [`QuantizedWeight::forward`] on autodiff `flex`: `dx = dy·W`; the weight is
/// frozen and gets nothing.
#[derive(Debug)]
struct QuantizedLinearBackward;

impl Backward<Flex, 1> for QuantizedLinearBackward {
    type State = QuantizedWeight;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let weight = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let grad = contiguous(grad);
            let mut dims = grad.layout().shape().clone();
            let dx = weight.matmul(values(&grad));
            let last = dims.num_dims() - 1;
            dims[last] = weight.shape()[1];
            FlexTensor::from_data(TensorData::new(dx, dims))
        });
    }
}
