import BorgPullCore
public enum BorgPullSystem {}
