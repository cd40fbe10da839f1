# plot.gp - bench/results.png from one benchmark run (data by report.py).
#
#   gnuplot -e "dir='bench/tmp'; out='bench/results.png'" scripts/bench/plot.gp
#
# Left: requests per second by workload and contender (log scale; a failed
# contender has no bar). Right: requests per second against tasks in flight
# for retryrun, the C multi loop and wrk.
set terminal pngcairo size 1400,560 font "sans,11"
set output out
set multiplot layout 1,2 title "retryrun benchmarks (loopback, one machine, one run)"

set title "W1 sequential, W2 faulty, W3 64 in flight, W5 HTTPS, W6 HTTP/2\n(no bar: failed or not run)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [100:*]
set ylabel "requests/s (log)"
set key top left font ",9"
set grid ytics
plot for [i=2:7] dir.'/bars.dat' using i:xtic(1) title columnheader(i)

unset logscale
set style data linespoints
set title "Concurrency sweep against nginx"
set logscale x 2
set xrange [0.8:320]
set yrange [0:*]
set xlabel "in flight (tasks, connections)"
set ylabel "requests/s"
set key bottom right
plot for [i=2:4] dir.'/sweep.dat' using 1:i title columnheader(i) lw 2 pt 7

unset multiplot
