#pragma once
// Encoding through an ffmpeg process (Debian: apt-get install ffmpeg): raw RGB frames go down a
// pipe to its standard input, its messages to a temporary file that error reports quote.
// POSIX only (posix_spawn, pipes).
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "errors.hpp"
#include "image.hpp"

extern char** environ;

namespace spindle::render {

namespace detail {

/// The executable `program` names: itself when it holds a '/', else the first match on PATH.
inline std::filesystem::path find_program(const std::string& program) {
  auto executable = [](const std::filesystem::path& p) { return ::access(p.c_str(), X_OK) == 0 && !std::filesystem::is_directory(p); };
  if (program.find('/') != std::string::npos) {
    if (executable(program)) return program;
  } else if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty() && executable(std::filesystem::path(dir) / program)) return std::filesystem::path(dir) / program;
  }
  throw render_error("render: '" + program + "' not found" +
                     (program.find('/') == std::string::npos ? " on PATH" : "") +
                     " (videos and PNGs are encoded by ffmpeg; Debian: apt-get install ffmpeg)");
}

/// Throws unless `file` can be created or overwritten: its directory must exist and be writable.
inline void check_writable(const std::filesystem::path& file) {
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    throw render_error("render: cannot write '" + file.string() + "': directory '" + dir.string() + "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0 || (std::filesystem::exists(file) && ::access(file.c_str(), W_OK) != 0))
    throw render_error("render: cannot write '" + file.string() + "': permission denied");
}

/// SIGPIPE is blocked on this thread while it lives, and one raised meanwhile is consumed, so a
/// dead ffmpeg shows as EPIPE from write() instead of killing the program.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {}
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{}, old_{};
};

}  // namespace detail

/// One ffmpeg process writing `output`, fed through its standard input.
class FfmpegProcess {
 public:
  FfmpegProcess(const std::string& program, const std::vector<std::string>& arguments, std::filesystem::path output)
      : output_(std::move(output)) {
    const std::filesystem::path executable = detail::find_program(program);
    detail::check_writable(output_);
    std::string log_template = (std::filesystem::temp_directory_path() / "spindle-ffmpeg-XXXXXX").string();
    const int log_fd = ::mkstemp(log_template.data());
    if (log_fd < 0) throw render_error(std::string("render: cannot create a log file for ffmpeg: ") + std::strerror(errno));
    log_ = log_template;
    int fds[2];
    if (::pipe(fds) != 0) {
      ::close(log_fd);
      throw render_error(std::string("render: pipe to ffmpeg: ") + std::strerror(errno));
    }
    std::vector<std::string> argv_text{executable.string(), "-hide_banner", "-loglevel", "error", "-y"};
    argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
    argv_text.push_back(output_.string());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    const int spawned = ::posix_spawn(&pid_, executable.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[0]);
    ::close(log_fd);
    if (spawned != 0) {
      ::close(fds[1]);
      std::filesystem::remove(log_);
      throw render_error("render: cannot start '" + executable.string() + "': " + std::strerror(spawned));
    }
    input_ = fds[1];
  }
  FfmpegProcess(const FfmpegProcess&) = delete;
  FfmpegProcess& operator=(const FfmpegProcess&) = delete;
  ~FfmpegProcess() {
    if (input_ >= 0) {
      try {
        finish();
      } catch (...) {  // destructors do not throw; call finish() to hear about errors
      }
    }
    std::error_code ignored;
    std::filesystem::remove(log_, ignored);
  }

  void write(const std::uint8_t* bytes, std::size_t size) {
    if (input_ < 0) throw render_error("render: '" + output_.string() + "' is already finished");
    detail::SigpipeGuard guard;
    while (size > 0) {
      const ssize_t n = ::write(input_, bytes, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int error = errno;
        finish_quietly();
        throw render_error("render: ffmpeg stopped reading while writing '" + output_.string() + "' (" +
                           std::strerror(error) + ")" + log_text());
      }
      bytes += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  /// Closes the input and waits for ffmpeg; throws with its messages if it failed.
  void finish() {
    if (input_ < 0) return;
    const int status = finish_quietly();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw render_error("render: ffmpeg failed to write '" + output_.string() + "'" + log_text());
  }

  const std::filesystem::path& output() const noexcept { return output_; }

 private:
  int finish_quietly() noexcept {
    ::close(input_);
    input_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    return status;
  }
  std::string log_text() const {
    std::ifstream in(log_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.empty() ? std::string() : ":\n  ffmpeg: " + text;
  }

  std::filesystem::path output_;
  std::filesystem::path log_{};
  pid_t pid_ = -1;
  int input_ = -1;
};

/// The arguments telling ffmpeg that standard input carries raw RGB frames of this size.
inline std::vector<std::string> raw_rgb_input(int width, int height, double fps) {
  std::ostringstream rate;
  rate << fps;
  return {"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", std::to_string(width) + "x" + std::to_string(height),
          "-framerate", rate.str(), "-i", "-", "-an"};
}

/// Writes one image as a PNG file (through ffmpeg).
inline void write_png(const std::filesystem::path& path, const Image& image, const std::string& ffmpeg = "ffmpeg") {
  if (path.extension() != ".png") throw render_error("render: '" + path.string() + "' is not a .png path");
  auto arguments = raw_rgb_input(image.width, image.height, 1.0);
  arguments.insert(arguments.end(), {"-frames:v", "1", "-f", "image2", "-c:v", "png"});
  FfmpegProcess process(ffmpeg, arguments, path);
  process.write(image.rgb.data(), image.rgb.size());
  process.finish();
}

}  // namespace spindle::render
