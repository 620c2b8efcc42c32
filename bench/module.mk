# bench/ — benchmarks (`make bench`); they print figures, never assert timings.
bench: all
	@for b in bench/*.sh; do [ -x "$$b" ] && BUILD=$(BUILD) "$$b"; done; true
