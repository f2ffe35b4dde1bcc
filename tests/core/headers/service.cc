// Compiles micro/service.h on its own: it must include everything it uses.
#include "micro/service.h"
