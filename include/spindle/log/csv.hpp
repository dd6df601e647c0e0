#pragma once
// A CSV training log: a header of column names, then one row of numbers per call.
// Rows are flushed as they are written, so a crashed run keeps its log.
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

namespace spindle::log {

class CsvLog {
 public:
  CsvLog() = default;  // disabled: rows are dropped
  CsvLog(const std::string& path, std::vector<std::string> columns) : columns_(std::move(columns)) {
    out_.open(path, std::ios::out | std::ios::trunc);
    if (!out_) throw std::runtime_error("CsvLog: cannot open '" + path + "' for writing");
    for (std::size_t i = 0; i < columns_.size(); ++i) out_ << (i ? "," : "") << columns_[i];
    out_ << '\n';
    out_.flush();
  }
  bool enabled() const noexcept { return out_.is_open(); }
  /// One row; NaN is written as an empty field (a value that does not apply).
  void row(std::initializer_list<double> values) { row(std::span<const double>(values.begin(), values.size())); }
  void row(std::span<const double> values) {
    if (!enabled()) return;
    if (values.size() != columns_.size()) throw std::invalid_argument("CsvLog::row: wrong number of values");
    bool first = true;
    for (double v : values) {
      if (!first) out_ << ',';
      first = false;
      if (std::isfinite(v)) out_ << v;
    }
    out_ << '\n';
    out_.flush();
  }
  const std::vector<std::string>& columns() const noexcept { return columns_; }

 private:
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace spindle::log
