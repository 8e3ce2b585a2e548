# Sourced by the benchmarks that draw their figures (bench/*.sh, from the repository's top).
# draw_figures <status> <figures.json> <report>: when the figures were written (status 0),
# the PNG beside the text report (scripts/bench_plot.py); a failure is reported and never
# loses the report.
draw_figures() {
  if [ "$1" -ne 0 ]; then
    printf '[bench] could not write %s; the report is %s\n' "$2" "$3"
  elif python3 scripts/bench_plot.py "$2" >/dev/null; then
    printf '[bench] figure: %s\n' "${2%.json}.png"
  else
    printf '[bench] could not draw %s (scripts/bench_plot.py); the report is %s\n' "$2" "$3"
  fi
}
