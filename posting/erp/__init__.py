"""ERP adapters and the push pipeline (see base.py for the interface)."""
