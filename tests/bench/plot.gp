# gnuplot script for scripts/bench: checkpoint and restart time against
# memory size, cptrst and CRIU, with the plain copy as the reference.
# Variables: datafile (columns: MiB cptrst_ckpt cptrst_restart criu_ckpt
# criu_restart memcpy write), outfile.
set terminal pngcairo size 900,560 font "sans,11"
set output outfile
set title "cptrst and CRIU: one process with dirty anonymous memory (median, QEMU TCG guest)"
set xlabel "memory (MiB)"
set ylabel "time (s)"
set logscale xy
set xrange [45:1450]
set xtics (64, 128, 256, 512, 1024)
set key top left
set grid
plot datafile using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "cptrst checkpoint", \
     datafile using 1:3 with linespoints lw 2 pt 5 lc rgb "#1f77b4" dt 2 title "cptrst restart", \
     datafile using 1:4 with linespoints lw 2 pt 7 lc rgb "#d62728" title "CRIU dump", \
     datafile using 1:5 with linespoints lw 2 pt 5 lc rgb "#d62728" dt 2 title "CRIU restore", \
     datafile using 1:6 with linespoints lw 1 pt 1 lc rgb "#555555" title "plain memcpy", \
     datafile using 1:7 with linespoints lw 1 pt 2 lc rgb "#999999" dt 3 title "plain write to tmpfs"
