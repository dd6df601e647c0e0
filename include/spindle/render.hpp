#pragma once
/// @file
/// Pictures and videos of MuJoCo models (target spindle::render: MuJoCo + OSMesa, headless;
/// ffmpeg on PATH encodes). Optional: the core and spindle::mujoco never need it.
#include "render/camera.hpp"
#include "render/errors.hpp"
#include "render/ffmpeg.hpp"
#include "render/image.hpp"
#include "render/osmesa_context.hpp"
#include "render/overlays.hpp"
#include "render/recorder.hpp"
#include "render/renderer.hpp"
#include "render/video_writer.hpp"
