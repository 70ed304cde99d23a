//! Container runtime (placeholder; being written).
