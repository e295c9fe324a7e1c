"""PersonaLab benchmarks: `make bench` (python -m benches). Results live in benches/README.md."""
