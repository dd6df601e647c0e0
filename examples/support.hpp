#pragma once
// What the training examples share: train-then-evaluate with a one-line report, and a PNG
// learning curve from the CSV log.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace spindle_examples {

/// learn(steps), then a deterministic evaluation; prints time, speed and return, returns the return.
template <class Algorithm>
double train_and_report(Algorithm& algorithm, long steps, int eval_episodes) {
  const auto t0 = std::chrono::steady_clock::now();
  algorithm.learn(steps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ret = algorithm.evaluate(eval_episodes);
  std::printf("trained %ld steps in %.2f s (%.0f steps/s); deterministic return over %d episodes: %.1f\n",
              algorithm.num_timesteps(), seconds, double(algorithm.num_timesteps()) / seconds, eval_episodes, ret);
  return ret;
}

/// Plots column 3 (episode return) against column 1 (steps) of `csv` into `png` with gnuplot,
/// when it is installed; otherwise says how to get it.
inline void plot_learning_curve(const std::string& csv, const std::string& png, const std::string& title) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: no plot (apt install gnuplot-nox)\n");
    return;
  }
  const std::string script = "set terminal pngcairo size 900,540; set output '" + png +
                             "'; set datafile separator ','; set key autotitle columnhead; set xlabel 'environment steps';"
                             " set ylabel 'episode return'; set title '" + title + "'; set grid;"
                             " plot '" + csv + "' using 1:3 with points pt 7 ps 0.5 title 'episode return'";
  const std::string cmd = "gnuplot -e \"" + script + "\"";
  if (std::system(cmd.c_str()) == 0) std::printf("learning curve: %s\n", png.c_str());
  else std::printf("gnuplot failed; the CSV is %s\n", csv.c_str());
}

/// One run's episode log (a CSV with steps in column 1 and the return in column 3) and its key entry.
struct Run {
  std::string csv, label;
  int color = 1;  // gnuplot line colour: runs of one method share it
};

/// Plots the running mean (over `window` episodes) of each run's episode return against steps into
/// `png` with gnuplot; the smoothed curves go to `png`.dat (one block per run).
inline void plot_runs(const std::vector<Run>& runs, const std::string& png, const std::string& title, std::size_t window = 50) {
  const std::string dat = png + ".dat";
  std::ofstream out(dat);
  for (const Run& run : runs) {
    std::ifstream in(run.csv);
    std::string line;
    std::getline(in, line);  // header
    std::deque<double> recent;
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string steps, episode, ret;
      if (!std::getline(row, steps, ',') || !std::getline(row, episode, ',') || !std::getline(row, ret, ',')) continue;
      recent.push_back(std::stod(ret));
      if (recent.size() > window) recent.pop_front();
      out << steps << ' ' << std::accumulate(recent.begin(), recent.end(), 0.0) / double(recent.size()) << '\n';
    }
    out << "\n\n";
  }
  out.close();
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: no plot (apt install gnuplot-nox); the curves are in %s\n", dat.c_str());
    return;
  }
  std::string plot = "plot ";
  for (std::size_t i = 0; i < runs.size(); ++i)
    plot += (i ? ", '" : "'") + dat + "' index " + std::to_string(i) + " using 1:2 with lines lw 2 lc " +
            std::to_string(runs[i].color) + " title '" + runs[i].label + "'";
  const std::string script = "set terminal pngcairo size 900,540; set output '" + png +
                             "'; set xlabel 'environment steps'; set ylabel 'episode return (mean of the latest " +
                             std::to_string(window) + ")'; set title '" + title + "'; set grid; set key bottom right; " + plot;
  const std::string cmd = "gnuplot -e \"" + script + "\"";
  if (std::system(cmd.c_str()) == 0) std::printf("learning curves: %s\n", png.c_str());
  else std::printf("gnuplot failed; the curves are in %s\n", dat.c_str());
}

}  // namespace spindle_examples
