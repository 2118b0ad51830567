// Must NOT typecheck (test/package/install.test.ts): dense wants a number of units.
import { dense } from 'gradstream'

dense('sixteen')
