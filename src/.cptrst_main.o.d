/work/wt-restart/src/cptrst_main.o: /work/wt-restart/src/cptrst_main.rs /work/wt-restart/src/checkpoint.rs /work/wt-restart/src/device.rs /work/wt-restart/src/dump_mm.rs /work/wt-restart/src/dump_task.rs /work/wt-restart/src/eclone.rs /work/wt-restart/src/error.rs /work/wt-restart/src/../crates/cptrst-image/src/format.rs /work/wt-restart/src/image_in.rs /work/wt-restart/src/image_out.rs /work/wt-restart/src/ops.rs /work/wt-restart/src/restart/mod.rs /work/wt-restart/src/restart/context.rs /work/wt-restart/src/restart/coordinator.rs /work/wt-restart/src/restart/participant.rs /work/wt-restart/src/restart/registry.rs /work/wt-restart/src/restore_mm.rs /work/wt-restart/src/restore_plan.rs /work/wt-restart/src/restore_task.rs /work/wt-restart/src/shim.rs /work/wt-restart/src/restore_shim.rs /work/wt-restart/src/../crates/cptrst-uapi/src/abi.rs /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcore.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcompiler_builtins.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libkernel.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libffi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libmacros.so /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbindings.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libuapi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbuild_error.rmeta

/work/wt-restart/src/.cptrst_main.o.d: /work/wt-restart/src/cptrst_main.rs /work/wt-restart/src/checkpoint.rs /work/wt-restart/src/device.rs /work/wt-restart/src/dump_mm.rs /work/wt-restart/src/dump_task.rs /work/wt-restart/src/eclone.rs /work/wt-restart/src/error.rs /work/wt-restart/src/../crates/cptrst-image/src/format.rs /work/wt-restart/src/image_in.rs /work/wt-restart/src/image_out.rs /work/wt-restart/src/ops.rs /work/wt-restart/src/restart/mod.rs /work/wt-restart/src/restart/context.rs /work/wt-restart/src/restart/coordinator.rs /work/wt-restart/src/restart/participant.rs /work/wt-restart/src/restart/registry.rs /work/wt-restart/src/restore_mm.rs /work/wt-restart/src/restore_plan.rs /work/wt-restart/src/restore_task.rs /work/wt-restart/src/shim.rs /work/wt-restart/src/restore_shim.rs /work/wt-restart/src/../crates/cptrst-uapi/src/abi.rs /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcore.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcompiler_builtins.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libkernel.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libffi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libmacros.so /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbindings.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libuapi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbuild_error.rmeta

/work/wt-restart/src/cptrst_main.rs:
/work/wt-restart/src/checkpoint.rs:
/work/wt-restart/src/device.rs:
/work/wt-restart/src/dump_mm.rs:
/work/wt-restart/src/dump_task.rs:
/work/wt-restart/src/eclone.rs:
/work/wt-restart/src/error.rs:
/work/wt-restart/src/../crates/cptrst-image/src/format.rs:
/work/wt-restart/src/image_in.rs:
/work/wt-restart/src/image_out.rs:
/work/wt-restart/src/ops.rs:
/work/wt-restart/src/restart/mod.rs:
/work/wt-restart/src/restart/context.rs:
/work/wt-restart/src/restart/coordinator.rs:
/work/wt-restart/src/restart/participant.rs:
/work/wt-restart/src/restart/registry.rs:
/work/wt-restart/src/restore_mm.rs:
/work/wt-restart/src/restore_plan.rs:
/work/wt-restart/src/restore_task.rs:
/work/wt-restart/src/shim.rs:
/work/wt-restart/src/restore_shim.rs:
/work/wt-restart/src/../crates/cptrst-uapi/src/abi.rs:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcore.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libcompiler_builtins.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libkernel.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libffi.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libmacros.so:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbindings.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libuapi.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-23726b957a71/linux/rust/libbuild_error.rmeta:
