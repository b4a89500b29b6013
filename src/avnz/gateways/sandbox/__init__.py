"""What the gateways' local emulators share (`common.py`); each gateway's own sandbox lives in its
package (`avnz.gateways.<name>.sandbox`) and is named by its declaration."""
