// Must NOT compile: a curriculum on an environment without set_task names what is missing.
#include <spindle/curriculum.hpp>
#include <spindle/envs/pendulum.hpp>
using Staged = spindle::curriculum::Staged<spindle::envs::Pendulum>;
Staged make(std::shared_ptr<const spindle::curriculum::Scheduler> s) { return Staged(spindle::envs::Pendulum{}, s); }
