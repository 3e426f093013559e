"""Import-only stand-in for torchaudio (see tools/stubs/acepp_stand_in.py for why)."""
from acepp_stand_in import stand_in

stand_in(__name__)
