"""Import-only stand-in for torchvision, used by this project's CPU test/demo runtime only.

Why it exists: ComfyUI 0.3.75 imports torchvision at start-up through model families this pack never
uses (Stable Cascade, Cosmos, ACE-Step audio), and no CPU build of torchvision matching torch 2.13 exists
on the package registries this project installs from. Every import of ``torchvision`` or any of its
submodules succeeds; touching any attribute raises a clear error. It is never part of the node pack.
"""
import importlib.abc
import importlib.machinery
import sys
import types

__version__ = "0.0.0+acepp.stub"


class _Unavailable:
    def __init__(self, name):
        self._name = name

    def _fail(self, *args, **kwargs):
        raise RuntimeError(
            f"[ACE++ runtime] '{self._name}' comes from the torchvision stand-in of the CPU test runtime; "
            "install a real torchvision to use this ComfyUI feature."
        )

    __call__ = _fail

    def __getattr__(self, attr):
        return _Unavailable(f"{self._name}.{attr}")


class _StubModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self.__name__}.{attr}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.startswith(__name__ + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


sys.meta_path.append(_StubFinder())
sys.modules[__name__].__class__ = _StubModule
