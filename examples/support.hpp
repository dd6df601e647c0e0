#pragma once
// What the training examples share: train-then-evaluate with a one-line report, and a PNG
// learning curve from the CSV log.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace spindle_examples {

/// Returns main_body()'s exit code, or prints "<program>: error: <what>" and returns 1 when it
/// throws (a missing model file, a bad argument value found late).
template <class Main>
int exit_code_of(const char* program, Main&& main_body) {
  try {
    return main_body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

/// Runs job(i) for every i in [0, count) on up to `threads` threads. The first exception stops
/// the jobs not yet started and is rethrown here once every thread has finished, so a missing
/// model file ends the program with its message instead of std::terminate.
template <class Job>
void run_jobs(std::size_t count, int threads, Job&& job) {
  std::mutex lock;
  std::size_t next = 0;
  std::exception_ptr failure;
  auto worker = [&] {
    while (true) {
      std::size_t i;
      {
        const std::lock_guard<std::mutex> guard(lock);
        if (next >= count || failure) return;
        i = next++;
      }
      try {
        job(i);
      } catch (...) {
        const std::lock_guard<std::mutex> guard(lock);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), count);
  for (std::size_t t = 0; t < n; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

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
  int color = 1;        // gnuplot line colour: runs of one group share it
  std::string group{};  // runs of one group (one method, several seeds) make one band
};

namespace detail {
/// A run's smoothed curve: (steps, running mean of the latest `window` episode returns).
inline std::vector<std::pair<double, double>> smoothed_returns(const std::string& csv, std::size_t window) {
  std::vector<std::pair<double, double>> curve;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  std::deque<double> recent;
  double sum = 0;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string steps, episode, ret;
    if (!std::getline(row, steps, ',') || !std::getline(row, episode, ',') || !std::getline(row, ret, ',')) continue;
    recent.push_back(std::stod(ret));
    sum += recent.back();
    if (recent.size() > window) sum -= recent.front(), recent.pop_front();
    curve.emplace_back(std::stod(steps), sum / double(recent.size()));
  }
  return curve;
}

/// The curve's value at `steps`: its latest point at or before it (NaN before the first).
inline double value_at(const std::vector<std::pair<double, double>>& curve, double steps) {
  const auto after = std::upper_bound(curve.begin(), curve.end(), steps,
                                      [](double s, const std::pair<double, double>& p) { return s < p.first; });
  return after == curve.begin() ? std::nan("") : std::prev(after)->second;
}
}  // namespace detail

/// Several seeds per method as one band each: the mean over a group's runs of the running mean
/// (over `window` episodes) of the episode return, ± the standard error over runs, on a common
/// grid of steps (up to the shortest run of the group). Writes the bands to `png`.dat.
inline void plot_bands(const std::vector<Run>& runs, const std::string& png, const std::string& title, std::size_t window = 50,
                       int points = 200) {
  std::vector<std::string> order;  // groups in the order they first appear
  std::map<std::string, std::vector<const Run*>> groups;
  for (const Run& run : runs) {
    const std::string& g = run.group.empty() ? run.label : run.group;
    if (!groups.count(g)) order.push_back(g);
    groups[g].push_back(&run);
  }
  const std::string dat = png + ".dat";
  std::ofstream out(dat);
  out << "# steps mean lower upper (mean +- SEM over runs)\n";
  for (const std::string& g : order) {
    std::vector<std::vector<std::pair<double, double>>> curves;
    double end = INFINITY;
    for (const Run* run : groups[g]) {
      curves.push_back(detail::smoothed_returns(run->csv, window));
      end = std::min(end, curves.back().empty() ? 0.0 : curves.back().back().first);
    }
    out << "# " << g << " (" << curves.size() << " runs)\n";
    for (int i = 1; i <= points && end > 0; ++i) {
      const double steps = end * i / points;
      double sum = 0, sq = 0;
      int n = 0;
      for (const auto& c : curves) {
        const double v = detail::value_at(c, steps);
        if (std::isnan(v)) continue;
        sum += v, sq += v * v, ++n;
      }
      if (n == 0) continue;
      const double mean = sum / n;
      const double sem = n > 1 ? std::sqrt(std::max(0.0, (sq - n * mean * mean) / (n - 1)) / n) : 0.0;
      out << steps << ' ' << mean << ' ' << mean - sem << ' ' << mean + sem << '\n';
    }
    out << "\n\n";
  }
  out.close();
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: no plot (apt install gnuplot-nox); the bands are in %s\n", dat.c_str());
    return;
  }
  std::string plot = "plot ";
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string color = std::to_string(groups[order[i]].front()->color), index = std::to_string(i);
    plot += (i ? ", '" : "'") + dat + "' index " + index + " using 1:3:4 with filledcurves fs transparent solid 0.25 lc " + color +
            " notitle, '" + dat + "' index " + index + " using 1:2 with lines lw 2 lc " + color + " title '" + order[i] + " (" +
            std::to_string(groups[order[i]].size()) + (groups[order[i]].size() == 1 ? " run)'" : " runs)'");
  }
  const std::string script = "set terminal pngcairo size 900,540; set output '" + png +
                             "'; set xlabel 'environment steps'; set ylabel 'episode return (mean of the latest " +
                             std::to_string(window) + "; band: ± SEM over runs)'; set title '" + title +
                             "'; set grid; set key bottom right; " + plot;
  const std::string cmd = "gnuplot -e \"" + script + "\"";
  if (std::system(cmd.c_str()) == 0) std::printf("learning curves (mean ± SEM): %s\n", png.c_str());
  else std::printf("gnuplot failed; the bands are in %s\n", dat.c_str());
}

}  // namespace spindle_examples
