"""Chapter-specific interactive views: plain plotting functions the widgets call (unit-tested)."""
