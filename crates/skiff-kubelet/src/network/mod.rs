//! Pod networking (placeholder; being written).
