// Every page module registers its page and tabs on import (see registry/registry.ts).
// Add a new object kind or page module here.
import './datacenter';
import './node';
import './storage';
import './qemu';
import './lxc';
import './pool';
