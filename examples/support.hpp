#pragma once
// What the training examples share: train-then-evaluate with a one-line report, and a PNG
// learning curve from the CSV log.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

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

}  // namespace spindle_examples
