//! Human-readable dumps in the layout of `doveadm dump`, and JSON.
