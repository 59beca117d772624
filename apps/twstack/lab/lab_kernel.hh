// `twstack lab`'s Linux column: a scenario on the machine's own kernel, through
// apps/kernel (a namespace pair joined by veth, the epoll churn client and server,
// the scenario's knobs as per-namespace sysctls), measured as the twstack run is.
#pragma once

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "apps/kernel/kernel_run.hh"
#include "apps/twstack/lab/lab_run.hh"

namespace twstack::app {

// The sysctls one side gets: the knobs the prediction reads (so both stacks
// start from the same values whatever the kernel's per-namespace defaults are),
// then every net.* assignment of the scenario for that side, as written (so the
// kernel judges the value itself).
std::vector<kernel_churn::Sysctl> kernel_sysctls(const LabScenario& s, bool client);

// What the kernel cannot take: every twstack.* knob the scenario sets, each
// with what Linux does instead.
std::vector<std::string> twstack_only_knobs(const LabScenario& s);

// Why the scenario is twstack-only (its TIME_WAIT is not Linux's fixed 60 s), or nullopt.
std::optional<std::string> kernel_cannot_run(const LabScenario& s);

// Runs it; the namespaces are named <prefix>-c and <prefix>-s.
LabRun run_lab_kernel(const LabScenario& s, const std::string& ip, const std::string& prefix,
                      const volatile std::sig_atomic_t& interrupted);

}  // namespace twstack::app
