"""Key health: `/verify`, the status page and its data, the CloudWatch fleet readout."""
