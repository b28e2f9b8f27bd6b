"""Single source of truth for posebeam's data: skeleton layouts, records and table schemas."""
