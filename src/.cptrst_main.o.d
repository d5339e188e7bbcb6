/work/main/src/cptrst_main.o: /work/main/src/cptrst_main.rs /work/main/src/checkpoint.rs /work/main/src/device.rs /work/main/src/dump_mm.rs /work/main/src/dump_task.rs /work/main/src/eclone.rs /work/main/src/../crates/cptrst-image/src/format.rs /work/main/src/image_in.rs /work/main/src/image_out.rs /work/main/src/ops.rs /work/main/src/restart.rs /work/main/src/restore_mm.rs /work/main/src/restore_plan.rs /work/main/src/shim.rs /work/main/src/restore_shim.rs /work/main/src/../crates/cptrst-uapi/src/abi.rs /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcore.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcompiler_builtins.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libkernel.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libffi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libmacros.so /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbindings.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libuapi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbuild_error.rmeta

/work/main/src/.cptrst_main.o.d: /work/main/src/cptrst_main.rs /work/main/src/checkpoint.rs /work/main/src/device.rs /work/main/src/dump_mm.rs /work/main/src/dump_task.rs /work/main/src/eclone.rs /work/main/src/../crates/cptrst-image/src/format.rs /work/main/src/image_in.rs /work/main/src/image_out.rs /work/main/src/ops.rs /work/main/src/restart.rs /work/main/src/restore_mm.rs /work/main/src/restore_plan.rs /work/main/src/shim.rs /work/main/src/restore_shim.rs /work/main/src/../crates/cptrst-uapi/src/abi.rs /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcore.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcompiler_builtins.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libkernel.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libffi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libmacros.so /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbindings.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libuapi.rmeta /root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbuild_error.rmeta

/work/main/src/cptrst_main.rs:
/work/main/src/checkpoint.rs:
/work/main/src/device.rs:
/work/main/src/dump_mm.rs:
/work/main/src/dump_task.rs:
/work/main/src/eclone.rs:
/work/main/src/../crates/cptrst-image/src/format.rs:
/work/main/src/image_in.rs:
/work/main/src/image_out.rs:
/work/main/src/ops.rs:
/work/main/src/restart.rs:
/work/main/src/restore_mm.rs:
/work/main/src/restore_plan.rs:
/work/main/src/shim.rs:
/work/main/src/restore_shim.rs:
/work/main/src/../crates/cptrst-uapi/src/abi.rs:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcore.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libcompiler_builtins.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libkernel.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libffi.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libmacros.so:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbindings.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libuapi.rmeta:
/root/.cache/cptrst/linux-6.12.117-1~deb12u1-27e045ed42f0/linux/rust/libbuild_error.rmeta:
