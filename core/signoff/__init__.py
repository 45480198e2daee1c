"""Customer sign-off (签字确认): a signing link per completion; signing confirms like 确认完成."""
