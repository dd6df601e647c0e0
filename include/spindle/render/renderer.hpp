#pragma once
// Offscreen pictures of a MuJoCo model, headless: an OSMesa context, MuJoCo's scene and
// renderer, and an RGB image read back. Works for any MJCF (MyoSuite scenes included) and any
// mujoco::Env.
//
//   render::Renderer renderer(env.model(), {.width = 640, .height = 480,
//                                           .camera = render::Camera::tracking("torso")});
//   const render::Image& frame = renderer.render(env);
//
// Rendering never touches the simulation: each frame copies the mjData it is given and draws the
// copy. A model that changes (an Env that recompiles its body every episode) is picked up at the
// next frame. Software rasterisation is slow with shadows, reflections and multisampling; they
// are off unless asked for.
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>

#include "../mujoco/env.hpp"
#include "../mujoco/model.hpp"
#include "camera.hpp"
#include "errors.hpp"
#include "image.hpp"
#include "osmesa_context.hpp"

namespace spindle::render {

struct RenderOptions {
  int width = 640, height = 480;
  Camera camera = Camera::free();
  bool shadows = false;         // MuJoCo's shadow maps: about ×2 the time in software
  bool reflections = false;     // reflective floors: about ×2 again
  int multisamples = 0;         // MSAA samples of the offscreen buffer (MuJoCo's default is 4)
  bool show_activation = true;  // colour actuated tendons (muscles) by their activation
  int max_geoms = 10000;        // scene capacity; geoms beyond it are not drawn
  /// Optional: adds decoration geoms to each frame's scene after MuJoCo's own (see overlays.hpp).
  std::function<void(const mjModel&, const mjData&, mjvScene&)> decorate{};
};

class Renderer {
 public:
  Renderer(const mujoco::Model& model, const RenderOptions& options) : options_(options) {
    if (options_.width <= 0 || options_.height <= 0)
      throw render_error("render: image size must be positive, got " + std::to_string(options_.width) + "x" +
                         std::to_string(options_.height));
    if (options_.multisamples < 0) throw render_error("render: multisamples must be >= 0");
    mjv_defaultScene(&scene_);
    mjr_defaultContext(&gl_);
    mjv_defaultOption(&option_);
    option_.flags[mjVIS_ACTIVATION] = options_.show_activation;
    build(model);
  }
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;
  ~Renderer() {
    try {
      context_.make_current();  // GL objects are freed in their own context
    } catch (...) {
    }
    release();
  }

  const RenderOptions& options() const noexcept { return options_; }

  /// Draws `data` (a state of `model`) and returns the picture, valid until the next call.
  const Image& render(const mujoco::Model& model, const mjData& data) {
    context_.make_current();
    if (model.get() != source_) build(model);
    mj_copyData(data_, model_, &data);
    mjv_updateScene(model_, data_, &option_, nullptr, &camera_, mjCAT_ALL, &scene_);
    if (options_.decorate) options_.decorate(*model_, *data_, scene_);
    const mjrRect viewport{0, 0, options_.width, options_.height};
    mjr_render(viewport, &scene_, &gl_);
    mjr_readPixels(raw_.data(), nullptr, viewport, &gl_);
    const std::size_t row = static_cast<std::size_t>(options_.width) * 3;
    for (int y = 0; y < options_.height; ++y)  // OpenGL's rows run bottom-up
      std::memcpy(image_.rgb.data() + static_cast<std::size_t>(y) * row,
                  raw_.data() + static_cast<std::size_t>(options_.height - 1 - y) * row, row);
    return image_;
  }
  const Image& render(const mujoco::Env& env) { return render(env.model(), env.data()); }

 private:
  void build(const mujoco::Model& model) {
    release();
    try {
      allocate(model);
    } catch (...) {  // a constructor that throws runs no destructor: free here
      release();
      throw;
    }
  }

  void allocate(const mujoco::Model& model) {
    model_ = mj_copyModel(nullptr, model.get());
    if (!model_) throw render_error("render: could not copy the MuJoCo model");
    // The offscreen buffer's size comes from the model's visual settings: the copy gets ours.
    model_->vis.global.offwidth = std::max(model_->vis.global.offwidth, options_.width);
    model_->vis.global.offheight = std::max(model_->vis.global.offheight, options_.height);
    model_->vis.quality.offsamples = options_.multisamples;
    data_ = mj_makeData(model_);
    source_ = model.get();
    resolve_camera(model);
    mjv_makeScene(model_, &scene_, options_.max_geoms);
    scene_.flags[mjRND_SHADOW] = options_.shadows;
    scene_.flags[mjRND_REFLECTION] = options_.reflections;
    {
      // MuJoCo loads its OpenGL function pointers (process-wide) while making a context:
      // renderers built on several threads at once take turns.
      static std::mutex loading;
      const std::lock_guard<std::mutex> guard(loading);
      mjr_makeContext(model_, &gl_, mjFONTSCALE_100);
    }
    mjr_setBuffer(mjFB_OFFSCREEN, &gl_);
    if (gl_.currentBuffer != mjFB_OFFSCREEN || gl_.offWidth < options_.width || gl_.offHeight < options_.height)
      throw render_error("render: the OpenGL context has no offscreen buffer of " + std::to_string(options_.width) +
                         "x" + std::to_string(options_.height));
    image_.width = options_.width;
    image_.height = options_.height;
    image_.rgb.assign(static_cast<std::size_t>(options_.width) * static_cast<std::size_t>(options_.height) * 3, 0);
    raw_.assign(image_.rgb.size(), 0);
  }

  void resolve_camera(const mujoco::Model& model) {
    const Camera& c = options_.camera;
    mjv_defaultFreeCamera(model_, &camera_);
    auto id_of = [&](mjtObj type, const char* what) {
      const int id = mj_name2id(model_, type, c.name.c_str());
      if (id < 0)
        throw render_error("render: the model ('" + model.source() + "') has no " + what + " named '" + c.name + "'");
      return id;
    };
    if (c.kind == Camera::Kind::named) {
      camera_.type = mjCAMERA_FIXED;
      camera_.fixedcamid = id_of(mjOBJ_CAMERA, "camera");
      return;
    }
    if (c.kind == Camera::Kind::tracking) {
      camera_.type = mjCAMERA_TRACKING;
      camera_.trackbodyid = id_of(mjOBJ_BODY, "body");
    }
    if (c.view.distance > 0) camera_.distance = c.view.distance;
    camera_.azimuth = c.view.azimuth;
    camera_.elevation = c.view.elevation;
    if (c.view.lookat) std::copy(c.view.lookat->begin(), c.view.lookat->end(), camera_.lookat);
  }

  void release() noexcept {
    if (!model_) return;
    mjr_freeContext(&gl_);
    mjv_freeScene(&scene_);
    mj_deleteData(data_);
    mj_deleteModel(model_);
    model_ = nullptr;
    data_ = nullptr;
  }

  RenderOptions options_;
  OsmesaContext context_{};  // first: the GL objects below live in it
  const mjModel* source_ = nullptr;
  mjModel* model_ = nullptr;
  mjData* data_ = nullptr;
  mjvScene scene_{};
  mjrContext gl_{};
  mjvOption option_{};
  mjvCamera camera_{};
  Image image_{};
  std::vector<unsigned char> raw_{};
};

}  // namespace spindle::render
