"""Identity standards: citizen ID (GB 11643), credit codes (GB 32100 / GB 11714),
administrative divisions (GB/T 2260 with history) and Chinese names."""
