"""pip install ./python: builds the extension with Bazel (offline, as the rest of ferry)
and packages it with the pure-Python layer. docs/python.md has the steps.

    python3 -m venv --system-site-packages venv      # numpy, setuptools from Debian
    venv/bin/pip install --no-build-isolation ./python

FERRY_BAZEL_CONFIG picks the Bazel configuration (default: opt).
"""

import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # the Bazel workspace
TARGET = "//python:ferry/_ferry.so"


class BazelExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class BuildWithBazel(build_ext):
    """Runs bazel build and copies the shared object where setuptools expects it."""

    def build_extension(self, ext):
        config = ["--config=" + os.environ.get("FERRY_BAZEL_CONFIG", "opt")]
        subprocess.check_call(["bazel", "build"] + config + [TARGET], cwd=ROOT)
        bin_dir = subprocess.check_output(["bazel", "info"] + config + ["bazel-bin"], cwd=ROOT, text=True).strip()
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(bin_dir, "python", "ferry", "_ferry.so"), dest)


setup(
    name="ferry",
    version="0.1.0",
    description="ferry: an RDMA transport for distributed LLM inference, from Python",
    packages=["ferry"],
    package_data={"ferry": ["*.pyi", "py.typed"]},
    ext_modules=[BazelExtension("ferry._ferry")],
    cmdclass={"build_ext": BuildWithBazel},
    python_requires=">=3.11",
    install_requires=["numpy"],
    zip_safe=False,
)
