#include "vgpu/abi/ioreq.h"

namespace vgpu::abi {

const char* type_name(uint8_t type) {
  switch (type) {
    case IOREQ_TYPE_PIO:
      return "PIO";
    case IOREQ_TYPE_COPY:
      return "COPY";
    case IOREQ_TYPE_PCI_CONFIG:
      return "PCI_CONFIG";
    case IOREQ_TYPE_TIMEOFFSET:
      return "TIMEOFFSET";
    case IOREQ_TYPE_INVALIDATE:
      return "INVALIDATE";
    default:
      return "UNKNOWN";
  }
}

const char* state_name(uint8_t state) {
  switch (state) {
    case STATE_IOREQ_NONE:
      return "NONE";
    case STATE_IOREQ_READY:
      return "IOREQ_READY";
    case STATE_IOREQ_INPROCESS:
      return "INPROCESS";
    case STATE_IORESP_READY:
      return "IORESP_READY";
    default:
      return "INVALID";
  }
}

}  // namespace vgpu::abi
