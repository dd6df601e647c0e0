#pragma once
// What the generated task models look like when rendered: a checkered floor (so a tracking
// camera shows motion), a sky, and a headlight bright enough for software rendering. Visual
// elements only: no physics quantity depends on them.

namespace spindle::mujoco::detail {

/// MJCF elements to place before <worldbody>; floors use material="spindle_floor".
inline constexpr const char* scenery_assets =
    "  <visual><headlight ambient=\"0.35 0.35 0.35\" diffuse=\"0.6 0.6 0.6\" specular=\"0.1 0.1 0.1\"/></visual>\n"
    "  <asset>\n"
    "    <texture name=\"spindle_sky\" type=\"skybox\" builtin=\"gradient\" rgb1=\"0.55 0.7 0.85\" rgb2=\"0.1 0.15 0.2\""
    " width=\"64\" height=\"64\"/>\n"
    "    <texture name=\"spindle_checker\" type=\"2d\" builtin=\"checker\" rgb1=\"0.3 0.35 0.4\" rgb2=\"0.2 0.24 0.28\""
    " width=\"128\" height=\"128\" mark=\"edge\" markrgb=\"0.45 0.5 0.55\"/>\n"
    "    <material name=\"spindle_floor\" texture=\"spindle_checker\" texrepeat=\"1 1\" texuniform=\"true\"/>\n"
    "  </asset>\n";

/// A light from above for the generated models' worldbody.
inline constexpr const char* scenery_light =
    "    <light name=\"spindle_sun\" directional=\"true\" pos=\"0 0 5\" dir=\"-0.3 0.3 -1\" diffuse=\"0.5 0.5 0.5\""
    " castshadow=\"false\"/>\n";

}  // namespace spindle::mujoco::detail
