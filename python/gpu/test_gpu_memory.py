"""GPU memory from Python: an object exposing __cuda_array_interface__ registers as device
memory without a copy, and writes and reads move bytes between host and GPU memory in
both directions on emu (CUDA copy engines). The GPU memory is allocated through the CUDA
driver with ctypes, so the test needs no CuPy or PyTorch: only a GPU and its driver.

Without a GPU every case skips with the reason (`needs a GPU: ...`), and the test runner
counts the target as skipped (tools/test.sh, tools/gpu-test.sh)."""

import ctypes

import numpy as np
import pytest

import ferry

TIMEOUT = 30.0


class Driver:
    """The few CUDA driver calls the test needs, on the device's primary context (the one
    ferry's CUDA runtime uses)."""

    def __init__(self):
        try:
            self.lib = ctypes.CDLL("libcuda.so.1")
        except OSError as e:
            pytest.skip(f"needs a GPU: no CUDA driver ({e})")
        lib = self.lib
        for name, args in {
            "cuInit": [ctypes.c_uint],
            "cuDeviceGet": [ctypes.POINTER(ctypes.c_int), ctypes.c_int],
            "cuDevicePrimaryCtxRetain": [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int],
            "cuCtxSetCurrent": [ctypes.c_void_p],
            "cuMemAlloc_v2": [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t],
            "cuMemFree_v2": [ctypes.c_uint64],
            "cuMemcpyHtoD_v2": [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t],
            "cuMemcpyDtoH_v2": [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t],
        }.items():
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = ctypes.c_int
        status = lib.cuInit(0)
        if status != 0:
            pytest.skip(f"needs a GPU: cuInit returned CUDA error {status}")
        device, context = ctypes.c_int(), ctypes.c_void_p()
        self.check(lib.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
        self.check(lib.cuDevicePrimaryCtxRetain(ctypes.byref(context), device), "cuDevicePrimaryCtxRetain")
        self.check(lib.cuCtxSetCurrent(context), "cuCtxSetCurrent")

    @staticmethod
    def check(status, call):
        assert status == 0, f"{call} returned CUDA error {status}"

    def alloc(self, nbytes):
        ptr = ctypes.c_uint64()
        self.check(self.lib.cuMemAlloc_v2(ctypes.byref(ptr), nbytes), "cuMemAlloc")
        return DeviceArray(self, ptr.value, nbytes)


class DeviceArray:
    """nbytes of GPU memory as a one-dimensional uint8 array, the way CuPy and PyTorch
    describe theirs."""

    def __init__(self, driver, ptr, nbytes):
        self.driver, self.ptr, self.nbytes = driver, ptr, nbytes
        self.__cuda_array_interface__ = {
            "data": (ptr, False), "shape": (nbytes,), "typestr": "|u1", "strides": None, "version": 3}

    def upload(self, host):
        self.driver.check(self.driver.lib.cuMemcpyHtoD_v2(self.ptr, host.ctypes.data, host.nbytes), "cuMemcpyHtoD")

    def download(self):
        host = np.empty(self.nbytes, np.uint8)
        self.driver.check(self.driver.lib.cuMemcpyDtoH_v2(host.ctypes.data, self.ptr, self.nbytes), "cuMemcpyDtoH")
        return host

    def free(self):
        self.driver.check(self.driver.lib.cuMemFree_v2(self.ptr), "cuMemFree")


@pytest.fixture(scope="module")
def driver():
    return Driver()


def pattern(nbytes, seed):
    return np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8)


def test_host_to_gpu_and_back(driver):
    nbytes = 4 << 20
    gpu = driver.alloc(nbytes)
    try:
        with ferry.Cluster("emu", nodes=2) as c:
            a, b = c.engine(0), c.engine(1)
            src, back = pattern(nbytes, 1), np.zeros(nbytes, np.uint8)
            src_mem, back_mem = a.register_memory(src), a.register_memory(back)
            gpu_mem = b.register_memory(gpu)
            assert gpu_mem.kind == "device" and gpu_mem.nbytes == nbytes
            a.write(1, src, gpu_mem.descriptor).wait(TIMEOUT)
            np.testing.assert_array_equal(gpu.download(), src)
            # And out of GPU memory into host memory, at an offset.
            a.read(1, back[4096:], gpu_mem.descriptor, offset=4096, nbytes=nbytes - 4096).wait(TIMEOUT)
            np.testing.assert_array_equal(back[4096:], src[4096:])
            assert not back[:4096].any()
            del src_mem, back_mem, gpu_mem
    finally:
        gpu.free()


def test_gpu_to_gpu_with_imm(driver):
    nbytes = 1 << 20
    src_gpu, dst_gpu = driver.alloc(nbytes), driver.alloc(nbytes)
    try:
        src_gpu.upload(pattern(nbytes, 2))
        with ferry.Cluster("emu", nodes=2) as c:
            a, b = c.engine(0), c.engine(1)
            src_mem, dst_mem = a.register_memory(src_gpu), b.register_memory(dst_gpu)
            assert src_mem.kind == "device" and dst_mem.kind == "device"
            landed = b.expect(0, tag=9, count=1)
            a.write_with_imm(1, src_mem, dst_mem.descriptor, tag=9, index=0).wait(TIMEOUT)
            assert landed.wait(TIMEOUT) is None
            np.testing.assert_array_equal(dst_gpu.download(), src_gpu.download())
            del src_mem, dst_mem
    finally:
        src_gpu.free()
        dst_gpu.free()
