// The lab's last column: does twstack agree with Linux? Each outcome of the two
// measurements of a scenario (first failure and its errno, TIME_WAIT peak and end
// on each side, reuse and overflow counts), held to the tolerances the prediction
// uses, and where they differ, why (a known difference documented in
// docs/linux-timewait.md, or "not explained").
#pragma once

#include "apps/twstack/lab/lab_predict.hh"

namespace twstack::app {

LabVerdict compare_with_linux(const LabScenario& s, const LabMeasurement& linux_m, const LabMeasurement& twstack_m);

}  // namespace twstack::app
