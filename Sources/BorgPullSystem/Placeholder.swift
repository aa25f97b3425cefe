import BorgPullCore
import CCap
import CSeccomp
public enum BorgPullSystem {}
