public enum BorgPullCore {}
