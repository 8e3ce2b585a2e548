"""Cross-cutting helpers shared by controllers and services."""
