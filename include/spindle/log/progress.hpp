#pragma once
// A live progress line: steps, steps/s, recent return, ETA. On a terminal it
// rewrites one line (carriage return); otherwise it prints a plain line at a
// slower pace so that logs stay readable.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <unistd.h>

namespace spindle::log {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Progress(std::int64_t total_steps, std::FILE* out = stdout)
      : total_(total_steps), out_(out), tty_(out && ::isatty(::fileno(out))), start_(Clock::now()),
        last_print_(start_) {}

  /// Call as often as you like; prints at most every 0.25 s (terminal) or 5 s (file/pipe).
  /// `note` ends the line (e.g. a curriculum's "stage 2/5 'slow'").
  void update(std::int64_t steps, std::optional<double> recent_return = std::nullopt, const std::string& note = {}) {
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_print_).count();
    if (since < (tty_ ? 0.25 : 5.0)) return;
    last_print_ = now;
    print(steps, recent_return, now, false, note);
  }

  /// Prints the final line (always) and ends it with a newline.
  void finish(std::int64_t steps, std::optional<double> recent_return = std::nullopt, const std::string& note = {}) {
    print(steps, recent_return, Clock::now(), true, note);
  }

  /// The line as it would be printed now (for tests and custom sinks).
  std::string line(std::int64_t steps, std::optional<double> recent_return, const std::string& note = {}) const {
    return format(steps, recent_return, std::chrono::duration<double>(Clock::now() - start_).count(), note);
  }

  std::string format(std::int64_t steps, std::optional<double> recent_return, double elapsed_s,
                     const std::string& note = {}) const {
    const double rate = elapsed_s > 0 ? static_cast<double>(steps) / elapsed_s : 0.0;
    char buf[256];
    int n = std::snprintf(buf, sizeof buf, "[%3d%%] steps %lld/%lld | %s steps/s",
                          total_ > 0 ? static_cast<int>(100.0 * static_cast<double>(steps) / static_cast<double>(total_)) : 0,
                          static_cast<long long>(steps), static_cast<long long>(total_), human(rate).c_str());
    std::string s(buf, static_cast<std::size_t>(n));
    if (recent_return) {
      std::snprintf(buf, sizeof buf, " | return %.1f", *recent_return);
      s += buf;
    }
    if (rate > 0 && steps < total_) s += " | ETA " + clock_string(static_cast<double>(total_ - steps) / rate);
    else s += " | " + clock_string(elapsed_s) + " elapsed";
    if (!note.empty()) s += " | " + note;
    return s;
  }

 private:
  void print(std::int64_t steps, std::optional<double> recent_return, Clock::time_point now, bool last,
             const std::string& note) {
    if (!out_) return;
    const std::string s = format(steps, recent_return, std::chrono::duration<double>(now - start_).count(), note);
    if (tty_)
      std::fprintf(out_, "\r\033[K%s%s", s.c_str(), last ? "\n" : "");
    else
      std::fprintf(out_, "%s\n", s.c_str());
    std::fflush(out_);
  }

  static std::string human(double x) {
    char buf[32];
    if (x >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", x / 1e6);
    else if (x >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", x / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
  }
  static std::string clock_string(double seconds) {
    const auto s = static_cast<long long>(std::llround(seconds));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
    return buf;
  }

  std::int64_t total_;
  std::FILE* out_;
  bool tty_;
  Clock::time_point start_, last_print_;
};

}  // namespace spindle::log
