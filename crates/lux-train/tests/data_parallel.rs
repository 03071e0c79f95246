//! Data-parallel training over burn 0.22's own distributed operations is not possible on the
//! CPU device lux builds by default (`flex`), and these tests pin down the three reasons, so the
//! day a burn upgrade removes them one of these tests fails and points at
//! `docs/data-parallel.md`, where the design that then becomes possible is written down.
//!
//! burn's data-parallel path (what `burn-train` 0.22's DDP strategy does) is: start a
//! `DistributedContext` over the peer devices, mark every parameter with
//! `Tensor::set_distributed(param_id)`, run one thread per device, and let `backward()` hand each
//! finished gradient to the sync server, which all-reduces it with `DistributedOps::all_reduce`.
//! On `flex`:
//! 1. the dispatch layer refuses to start the sync server: burn-backend-extension 0.22.1
//!    (`catalog.rs`) lists Flex with `distributed: false`, so burn-dispatch's
//!    `DistributedOps for Dispatch` has no Flex arm and panics;
//! 2. below the dispatch layer, `impl DistributedOps<Flex> for Flex {}` (burn-flex 0.22.1,
//!    `ops/transaction.rs`) keeps the trait's defaults, and `all_reduce` is `unimplemented!()`
//!    there (burn-backend 0.22.1, `backend/distributed/ops.rs`);
//! 3. `FlexDevice` is a unit struct whose id is always `DeviceId(0, 0)`: a process has one flex
//!    device, and the sync server tells peers apart by device id, so two flex peers would be one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::Device;
use burn::tensor::distributed::{DistributedConfig, DistributedContext, ReduceOperation};
use burn_backend::distributed::DistributedOps;
use burn_backend::ops::FloatTensorOps;
use burn_backend::{Device as BackendDevice, DeviceId, DeviceOps, TensorData};
use burn_flex::{Flex, FlexDevice};

/// The text of a caught panic (burn panics with a `String` or a `&str`).
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs `f`, which must panic, and returns its message.
fn expect_panic(f: impl FnOnce()) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!(
            "burn now accepts this distributed operation on flex: data-parallel training can be \
             built on it (see docs/data-parallel.md) and this test should be replaced"
        ),
        Err(payload) => panic_text(payload),
    }
}

fn mean() -> DistributedConfig {
    DistributedConfig {
        all_reduce_op: ReduceOperation::Mean,
    }
}

#[test]
fn burn_refuses_a_distributed_context_over_flex_devices() {
    // Exactly what burn-train's DDP strategy starts with, on the training (autodiff) device.
    let devices = vec![Device::flex().autodiff(), Device::flex().autodiff()];
    let message = expect_panic(|| drop(DistributedContext::init(devices, mean())));
    assert!(
        message.contains("Distributed operations are not supported for device"),
        "{message}"
    );
}

#[test]
fn flex_has_no_all_reduce_of_its_own() {
    let gradient = <Flex as FloatTensorOps<Flex>>::float_from_data(
        TensorData::from([1.0f32, 3.0]),
        &FlexDevice,
    );
    let peers = vec![DeviceId::new(0, 0), DeviceId::new(0, 1)];
    let message = expect_panic(|| {
        let reduced =
            <Flex as DistributedOps<Flex>>::all_reduce(gradient, ReduceOperation::Mean, peers);
        drop(reduced.resolve());
    });
    assert!(message.contains("not implemented"), "{message}");
}

#[test]
fn a_process_has_one_flex_device() {
    // Two peers need two devices the sync server can tell apart (it keys them by device id).
    assert_eq!(Device::flex(), Device::flex());
    let second = <FlexDevice as BackendDevice>::from_id(DeviceId::new(0, 1));
    assert_eq!(second.id(), FlexDevice.id());
}
