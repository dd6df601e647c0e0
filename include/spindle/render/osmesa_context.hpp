#pragma once
// A headless OpenGL context in main memory (Mesa's OSMesa: software rasterisation, no X server,
// no GPU). MuJoCo draws into an offscreen framebuffer object of its own inside the context, so the
// buffer OSMesa binds as the "window" only has to exist: a small one is enough.
#include <GL/osmesa.h>

#include <vector>

#include "errors.hpp"

namespace spindle::render {

class OsmesaContext {
 public:
  OsmesaContext() {
    // RGBA, 24-bit depth, 8-bit stencil: what MuJoCo's renderer asks of a default framebuffer.
    context_ = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0, nullptr);
    if (!context_)
      throw render_error("OSMesa could not create an OpenGL context (is Mesa's libosmesa6 installed and working?)");
    make_current();
  }
  OsmesaContext(const OsmesaContext&) = delete;
  OsmesaContext& operator=(const OsmesaContext&) = delete;
  ~OsmesaContext() { OSMesaDestroyContext(context_); }

  /// OpenGL contexts are current per thread: call before any GL work on this thread.
  void make_current() {
    if (!OSMesaMakeCurrent(context_, buffer_.data(), GL_UNSIGNED_BYTE, side, side))
      throw render_error("OSMesa could not make its context current");
  }

 private:
  static constexpr int side = 16;
  OSMesaContext context_ = nullptr;
  std::vector<unsigned char> buffer_ = std::vector<unsigned char>(side * side * 4);
};

}  // namespace spindle::render
