"""Import-only stand-ins for packages of ComfyUI's requirements that a machine of this project cannot have: no CPU
build for torch 2.13 on the registries (torchvision, torchaudio: the CPU test/demo runtime), or too large to carry
to a GPU machine (PyAV: tools/gpu_check.py). Never part of the node pack.

Why: ComfyUI imports them at start-up through model families this pack never uses (0.3.75: Stable Cascade,
Cosmos, ACE-Step audio; v0.28.2 also the LTX audio VAE, whose module imports torchaudio unconditionally).
After ``stand_in(name)`` every import of ``name`` or any of its submodules succeeds and every name in them is a
placeholder class (so annotations and subclasses at import time work); creating one raises a clear error naming
the package to install.
"""
import importlib.abc
import importlib.machinery
import sys
import types


def _fail(name: str):
    raise RuntimeError(f"[ACE++] '{name}' comes from an import-only stand-in of this project's test tooling "
                       f"(tools/stubs/acepp_stand_in.py); install the real '{name.split('.')[0]}' to use it.")


class _PlaceholderType(type):
    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _placeholder(f"{cls.__qualname__}.{attr}")


def _placeholder(name: str) -> type:
    """A class standing for ``name``: importable, usable in annotations (``X | None``) and as a base class;
    creating one (calling it) or any attribute of it raises."""
    return _PlaceholderType(name.rsplit(".", 1)[-1], (), {"__qualname__": name,
                                                           "__init__": lambda self, *a, **k: _fail(name)})


class _StubModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = _placeholder(f"{self.__name__}.{attr}")
        setattr(self, attr, value)  # the same placeholder each time: `m.X is m.X`
        return value


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, package: str):
        self.package = package

    def find_spec(self, fullname, path, target=None):
        if fullname.startswith(self.package + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def stand_in(package: str) -> None:
    """Make the already-imported top-level module ``package`` and all its submodules import-only stand-ins."""
    sys.meta_path.append(_StubFinder(package))
    module = sys.modules[package]
    module.__class__ = _StubModule
    module.__version__ = "0.0.0+acepp.stub"
