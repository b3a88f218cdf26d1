"""`semcom eval`: quality against SNR for every system, as JSON and plots."""
