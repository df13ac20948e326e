"""The guard on one machine: local servers, the Zoho simulator and the demo (no AWS account needed)."""
