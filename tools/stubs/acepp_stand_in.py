"""Import-only stand-ins for packages of ComfyUI's requirements that have no CPU build for torch 2.13 on the
registries this project installs from (torchvision, torchaudio). Used by this project's CPU test/demo runtime
only, never part of the node pack.

Why: ComfyUI imports them at start-up through model families this pack never uses (0.3.75: Stable Cascade,
Cosmos, ACE-Step audio; v0.28.2 also the LTX audio VAE, whose module imports torchaudio unconditionally).
After ``stand_in(name)`` every import of ``name`` or any of its submodules succeeds; touching any attribute
raises a clear error naming the package to install.
"""
import importlib.abc
import importlib.machinery
import sys
import types


class _Unavailable:
    def __init__(self, name):
        self._name = name

    def _fail(self, *args, **kwargs):
        raise RuntimeError(
            f"[ACE++ runtime] '{self._name}' comes from an import-only stand-in of the CPU test runtime "
            f"(tools/stubs); install the real '{self._name.split('.')[0]}' to use this ComfyUI feature."
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
